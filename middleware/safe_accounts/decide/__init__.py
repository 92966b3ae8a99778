"""Deciding about the accounts a request names, below the request path that reads them.

`ids.py`: which spellings of an id an app reads as one account.
"""
