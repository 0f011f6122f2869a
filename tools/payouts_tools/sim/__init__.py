"""A deterministic simulation of the whole system: the real services and store code in one
thread, on a virtual clock, with faults at every boundary drawn from one seed."""
