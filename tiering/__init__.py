"""Client-tiering data warehouse for project-finance firms (客户分级)."""

__version__ = "0.1.0"
