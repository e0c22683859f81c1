-- The audit log is kept for a set time (--audit-retention); the cleanup task finds old
-- events by time.
CREATE INDEX audit_events_at ON audit_events (at);
