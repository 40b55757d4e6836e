"""アカウント設定: what the signed-in account is and what the portal keeps for it."""
