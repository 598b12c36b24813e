//! The docker-compose.yml and Dockerfile are valid and wired as documented.
