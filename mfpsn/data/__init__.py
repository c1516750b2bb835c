"""Data sets and simulators: saccades, ESIM, DVS digits, spoken digits (SHD layout)."""
