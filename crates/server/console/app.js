// The console is being built.
