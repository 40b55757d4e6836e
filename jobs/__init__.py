"""Background jobs: queues, locks, run entry points and the schedule clock."""
