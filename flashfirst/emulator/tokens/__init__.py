"""What a request weighs, by the emulator's own reading of Google's token rules: the rules
per family and media resolution, its own media probe (never the product's), media named by
URL, a prompt counted part by part, and the implicit cache over its prefixes."""
