"""連携設定: the settings page of a connector (Steps 1–9), its services and sections."""
