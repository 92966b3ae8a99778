"""Three host apps that know nothing of Safe Accounts, each with its own conventions and its
own tables (the truth the differential tests judge by)."""
