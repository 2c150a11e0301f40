-- storage: accounts an admin has disabled (`atelier admin user disable NAME`). A disabled user
-- cannot log in, and their tokens and sessions stop working. 0 means enabled; otherwise the
-- time of disabling in seconds since the epoch.
ALTER TABLE users ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
