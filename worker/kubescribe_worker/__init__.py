"""The kubescribe worker: transcribes one file with WhisperX, by the status-file protocol."""
