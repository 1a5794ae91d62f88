"""Client access: projects, their short-lived tokens, per-token limits and usage.

model        the records (Project, Token, Limits, Usage), frozen where they are shared
validate     management API input -> records, or a 400 naming the field
secrets      minting a token and hashing it (only the hash is ever stored)
windows      rolling request/token windows for the rate limits (virtual-time clean)
registry     the in-memory view every request is checked against: no I/O per request
store        SQLite (`access.sqlite3` in the data directory), written through
manager      management operations: store first, then the view; usage flushed each second
views        records -> the management API's JSON
openapi      the management API's OpenAPI document
manage_cli   `trioproxy manage ...`
"""
