package io.mcp.affinity.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Stands in for the owning instance at the socket level, on loopback, to see how a forward arrives: what the first
 * read of each connection returns (a request written at once arrives at once), and everything received so far. Once
 * the request's declared body is in, it gives the {@link Answer} it was made with. Each connection is served on a
 * thread of its own.
 */
final class SocketOwner implements AutoCloseable {

	/** What the owner does once a request is in. */
	enum Answer {

		/** {@code 200} with a small JSON body, and the connection closed. */
		JSON,

		/** Nothing: the connection is held until the forwarder closes it. */
		NOTHING,

		/**
		 * The headers of an SSE stream at once, then nothing until {@link #speak()}: then one event
		 * ({@code data: still here}) and the stream's end.
		 */
		QUIET_STREAM,

		/** An SSE stream's headers, one event ({@code data: all here}) and the stream's end, in one write. */
		WHOLE_STREAM,

		/**
		 * An SSE stream's headers and one event ({@code data: first}, its chunk complete) in one write, then nothing
		 * until {@link #speak()}: then a second event ({@code data: second}) and the stream's end.
		 */
		EVENT_THEN_QUIET,

		/**
		 * An SSE stream's headers, then {@link #STEADY_EVENTS} events ({@code data: event-<i>}), each in a write and a
		 * chunk of its own a millisecond after the one before, then the stream's end.
		 */
		STEADY_STREAM,

		/** A response head that is not valid HTTP (its length is not a number), and the connection closed. */
		NOT_HTTP,

		/** {@code 401} asking for Basic credentials, and the connection closed. */
		CHALLENGE

	}

	/** How many events a {@link Answer#STEADY_STREAM} carries. */
	static final int STEADY_EVENTS = 150;

	/** What the first read of each connection returned. */
	final BlockingQueue<String> firstReads = new LinkedBlockingQueue<>();

	/** Everything the latest connection has received so far. */
	volatile String received = "";

	private final ServerSocket server;

	private final Answer answer;

	private final CountDownLatch spoken = new CountDownLatch(1);

	SocketOwner() throws IOException {
		this(Answer.JSON);
	}

	/**
	 * Creates the owner.
	 * @param answer what it does once a request is in
	 */
	SocketOwner(Answer answer) throws IOException {
		this.answer = answer;
		this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
		Thread acceptor = new Thread(this::serve, "socket-owner");
		acceptor.setDaemon(true);
		acceptor.start();
	}

	int port() {
		return this.server.getLocalPort();
	}

	/** Ends the quiet of every {@link Answer#QUIET_STREAM} stream, open or to come. */
	void speak() {
		this.spoken.countDown();
	}

	private void serve() {
		while (!this.server.isClosed()) {
			try {
				Socket socket = this.server.accept();
				Thread connection = new Thread(() -> serve(socket), "socket-owner-connection");
				connection.setDaemon(true);
				connection.start();
			}
			catch (IOException ex) {
				// closed: the test is over
			}
		}
	}

	private void serve(Socket socket) {
		try (socket) {
			answer(socket);
		}
		catch (IOException | InterruptedException ex) {
			// the forwarder went away, or the test is over
		}
	}

	private void answer(Socket socket) throws IOException, InterruptedException {
		InputStream in = socket.getInputStream();
		byte[] buffer = new byte[65536];
		// Blocked in this read before the forward writes: it returns what the first write carried.
		int read = in.read(buffer);
		if (read < 0) {
			return;
		}
		String received = new String(buffer, 0, read, StandardCharsets.ISO_8859_1);
		this.firstReads.add(received);
		this.received = received;
		// This connection's own copy: others may be read at the same time.
		while (!isWhole(received)) {
			read = in.read(buffer);
			if (read < 0) {
				return;
			}
			received += new String(buffer, 0, read, StandardCharsets.ISO_8859_1);
			this.received = received;
		}
		OutputStream out = socket.getOutputStream();
		switch (this.answer) {
			case JSON -> write(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
					+ "Connection: close\r\n\r\n{}");
			case NOTHING -> {
				while (in.read(buffer) >= 0) {
					// held until the forwarder gives up and closes
				}
			}
			case QUIET_STREAM -> {
				write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
				this.spoken.await();
				String event = "data: still here\n\n";
				write(out, Integer.toHexString(event.length()) + "\r\n" + event + "\r\n0\r\n\r\n");
			}
			case WHOLE_STREAM -> {
				String event = "data: all here\n\n";
				write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
						+ Integer.toHexString(event.length()) + "\r\n" + event + "\r\n0\r\n\r\n");
			}
			case EVENT_THEN_QUIET -> {
				String first = "data: first\n\n";
				write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
						+ Integer.toHexString(first.length()) + "\r\n" + first + "\r\n");
				this.spoken.await();
				String second = "data: second\n\n";
				write(out, Integer.toHexString(second.length()) + "\r\n" + second + "\r\n0\r\n\r\n");
			}
			case STEADY_STREAM -> {
				write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
				for (int i = 0; i < STEADY_EVENTS; i++) {
					String event = "data: event-" + i + "\n\n";
					write(out, Integer.toHexString(event.length()) + "\r\n" + event + "\r\n");
					Thread.sleep(1);
				}
				write(out, "0\r\n\r\n");
			}
			case NOT_HTTP -> write(out, "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
			case CHALLENGE -> write(out, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"owner\"\r\n"
					+ "Content-Length: 0\r\nConnection: close\r\n\r\n");
		}
	}

	private static void write(OutputStream out, String text) throws IOException {
		out.write(text.getBytes(StandardCharsets.ISO_8859_1));
		out.flush();
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
		// Quiet streams still open end too.
		this.spoken.countDown();
	}

}
