"""`make chaos`: steady load through the real suite while faults are injected one at a
time and then together, with checks over every call (docs/chaos.md)."""
