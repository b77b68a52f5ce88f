"""pactwatch's shared library: what every service needs to speak to the others."""
