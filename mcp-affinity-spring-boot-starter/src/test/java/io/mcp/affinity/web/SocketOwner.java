package io.mcp.affinity.web;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Stands in for the owning instance at the socket level, on loopback, to see how a forward arrives: what the first
 * read of each connection returns (a request written at once arrives at once), and everything received so far. Once
 * the request's declared body is in, it answers {@code 200} with a small JSON body and closes the connection; or, made
 * silent, it answers nothing and holds the connection until the forwarder closes it.
 */
final class SocketOwner implements AutoCloseable {

	/** What the first read of each connection returned. */
	final BlockingQueue<String> firstReads = new LinkedBlockingQueue<>();

	/** Everything the latest connection has received so far. */
	volatile String received = "";

	private final ServerSocket server;

	private final boolean answering;

	SocketOwner() throws IOException {
		this(true);
	}

	/**
	 * Creates the owner.
	 * @param answering whether it answers a request, or holds it unanswered
	 */
	SocketOwner(boolean answering) throws IOException {
		this.answering = answering;
		this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
		Thread acceptor = new Thread(this::serve, "socket-owner");
		acceptor.setDaemon(true);
		acceptor.start();
	}

	int port() {
		return this.server.getLocalPort();
	}

	private void serve() {
		while (!this.server.isClosed()) {
			try (Socket socket = this.server.accept()) {
				answer(socket);
			}
			catch (IOException ex) {
				// closed: the test is over
			}
		}
	}

	private void answer(Socket socket) throws IOException {
		InputStream in = socket.getInputStream();
		byte[] buffer = new byte[65536];
		// Blocked in this read before the forward writes: it returns what the first write carried.
		int read = in.read(buffer);
		if (read < 0) {
			return;
		}
		String first = new String(buffer, 0, read, StandardCharsets.ISO_8859_1);
		this.firstReads.add(first);
		this.received = first;
		while (!isWhole(this.received)) {
			read = in.read(buffer);
			if (read < 0) {
				return;
			}
			this.received += new String(buffer, 0, read, StandardCharsets.ISO_8859_1);
		}
		if (!this.answering) {
			while (in.read(buffer) >= 0) {
				// held until the forwarder gives up and closes
			}
			return;
		}
		socket.getOutputStream()
			.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
					+ "Connection: close\r\n\r\n{}")
				.getBytes(StandardCharsets.ISO_8859_1));
		socket.getOutputStream().flush();
	}

	// Headers in, and as much body as they declare.
	private static boolean isWhole(String request) {
		int end = request.indexOf("\r\n\r\n");
		if (end < 0) {
			return false;
		}
		long length = 0;
		for (String line : request.substring(0, end).split("\r\n")) {
			if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
				length = Long.parseLong(line.substring("content-length:".length()).trim());
			}
		}
		return request.length() - (end + 4) >= length;
	}

	@Override
	public void close() throws IOException {
		this.server.close();
	}

}
