"""What both servers share: the configuration file, the development fence, the bootstrap."""
