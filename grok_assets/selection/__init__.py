"""Asking Grok (or a recorded answer) for a day's candidates: the prompt, the call, the
validation and the score."""
