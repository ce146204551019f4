"""The storage ports on Firestore (the emulator when FIRESTORE_EMULATOR_HOST is set), one module
per aggregate. Paths come from adapters/paths; reads and writes are counted on the meter."""
