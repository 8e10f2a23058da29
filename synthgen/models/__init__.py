"""Generator families. Each is a LightningModule that sees only an encoder's Layout."""
