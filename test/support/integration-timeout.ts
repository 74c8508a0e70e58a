// Integration tests drive real servers: allow them a minute each (jest's default is 5 s).
jest.setTimeout(60_000);
