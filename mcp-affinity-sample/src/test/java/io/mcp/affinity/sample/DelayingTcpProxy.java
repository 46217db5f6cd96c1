package io.mcp.affinity.sample;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy on loopback that holds every packet for a fixed time in each direction, as a Redis in another zone
 * would: each chunk is sent on when its delay has passed, in order, and chunks do not wait for one another, so a
 * pipelining client keeps its throughput and only its latency grows.
 */
final class DelayingTcpProxy implements AutoCloseable {

	private static final byte[] END = new byte[0];

	private final int targetPort;

	private final long delayNanos;

	private final ServerSocket server;

	private final List<Socket> sockets = new CopyOnWriteArrayList<>();

	private DelayingTcpProxy(int targetPort, Duration delay) throws IOException {
		this.targetPort = targetPort;
		this.delayNanos = delay.toNanos();
		this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
	}

	/**
	 * Starts a proxy to a port on loopback.
	 * @param targetPort where to connect
	 * @param delay how long each chunk is held, each way
	 * @return the proxy
	 */
	static DelayingTcpProxy start(int targetPort, Duration delay) {
		try {
			DelayingTcpProxy proxy = new DelayingTcpProxy(targetPort, delay);
			daemon("proxy-accept", proxy::accept);
			return proxy;
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
	}

	int port() {
		return this.server.getLocalPort();
	}

	private void accept() {
		while (!this.server.isClosed()) {
			Socket client = null;
			try {
				client = this.server.accept();
				Socket target = new Socket(InetAddress.getLoopbackAddress(), this.targetPort);
				client.setTcpNoDelay(true);
				target.setTcpNoDelay(true);
				this.sockets.add(client);
				this.sockets.add(target);
				pipe(client, target);
				pipe(target, client);
			}
			catch (IOException ex) {
				// Closed, or the target refused: the client sees its connection drop, as it would.
				if (client != null) {
					closeQuietly(client);
				}
			}
		}
	}

	// One direction: a reader that stamps each chunk with the time it may leave, and a writer that sends it then.
	private void pipe(Socket from, Socket to) throws IOException {
		InputStream in = from.getInputStream();
		OutputStream out = to.getOutputStream();
		BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
		daemon("proxy-read", () -> {
			byte[] buffer = new byte[16 * 1024];
			try {
				for (int n; (n = in.read(buffer)) >= 0;) {
					queue.add(new Chunk(System.nanoTime() + this.delayNanos, Arrays.copyOf(buffer, n)));
				}
			}
			catch (IOException ex) {
				// The connection broke: end the other side too.
			}
			queue.add(new Chunk(System.nanoTime() + this.delayNanos, END));
		});
		daemon("proxy-write", () -> {
			try {
				while (true) {
					Chunk chunk = queue.take();
					long wait = chunk.sendAt() - System.nanoTime();
					if (wait > 0) {
						TimeUnit.NANOSECONDS.sleep(wait);
					}
					if (chunk.bytes() == END) {
						to.shutdownOutput();
						return;
					}
					out.write(chunk.bytes());
					out.flush();
				}
			}
			catch (IOException | InterruptedException ex) {
				closeQuietly(from);
				closeQuietly(to);
			}
		});
	}

	private static void daemon(String name, Runnable task) {
		Thread thread = new Thread(task, name);
		thread.setDaemon(true);
		thread.start();
	}

	private static void closeQuietly(Socket socket) {
		try {
			socket.close();
		}
		catch (IOException ex) {
			// Closing anyway.
		}
	}

	@Override
	public void close() throws IOException {
		this.server.close();
		this.sockets.forEach(DelayingTcpProxy::closeQuietly);
	}

	private record Chunk(long sendAt, byte[] bytes) {
	}

}
