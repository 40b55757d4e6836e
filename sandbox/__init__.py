"""Local stand-ins for the external services the portal talks to (kintone, 配配メール)."""
