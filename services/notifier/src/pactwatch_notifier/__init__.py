"""notifier: one alert per new signed bilateral agreement, on channels anyone can read."""
