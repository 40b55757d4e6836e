"""Japanese wording of what the kintone and 配配メール clients report, in one place.

The clients (`portal.integrations`) raise typed errors that carry facts only; these modules turn
an error plus what the portal was doing into the message a user reads, so the settings page,
the 実行 page and the run log word the same failure the same way: `kintone` and `haihai`.
"""
