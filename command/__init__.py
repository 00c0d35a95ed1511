"""Pure domain of the wartime command dashboard: no I/O, no clock reads."""
