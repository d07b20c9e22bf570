"""Help desk: requests, their triage, SLA clocks and assignment."""
