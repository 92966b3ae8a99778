"""What the app does, as functions over one database connection.

The JSON API and the HTML form routes both call these, so a page action and an API
call are the same operation with the same checks and the same answer.
"""
