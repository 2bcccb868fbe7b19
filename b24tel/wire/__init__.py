"""The ground floor of the wire format: what every layer may use to read values clients send
(numbers in text). Imports nothing of b24tel."""
