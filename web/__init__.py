"""The Flask front end (see the web issue); placeholder factory until then."""
