"""The offline engine: runs the real program under Pulumi's mock engine and records what it declares.
User commands (tools/) and tests build on it; the program never imports it."""
