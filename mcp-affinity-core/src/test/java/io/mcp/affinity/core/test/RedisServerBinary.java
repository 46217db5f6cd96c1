package io.mcp.affinity.core.test;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * The redis-server binary that multi-node topologies (Redis Cluster, Sentinel) are started from: the one on the
 * {@code PATH} (CI installs Redis 7.0), else the Linux binary shipped in the embedded-redis jar (Redis 6.2), so the
 * tests also run on a fresh machine with no Redis installed.
 */
public final class RedisServerBinary {

	private static final String EMBEDDED = "/redis-server-6.2.6-v5-linux-amd64";

	private static final int START_ATTEMPTS = 5;

	private static final Duration START_TIMEOUT = Duration.ofSeconds(10);

	private static Path path;

	private RedisServerBinary() {
	}

	/** The binary, located or extracted on first use. */
	public static synchronized Path path() {
		if (path == null) {
			path = locate();
			System.out.println("Redis topologies start from " + path);
		}
		return path;
	}

	private static Path locate() {
		String searchPath = System.getenv("PATH");
		if (searchPath != null) {
			for (String directory : searchPath.split(File.pathSeparator)) {
				Path candidate = Path.of(directory, "redis-server");
				if (Files.isExecutable(candidate)) {
					return candidate;
				}
			}
		}
		try (InputStream binary = RedisServerBinary.class.getResourceAsStream(EMBEDDED)) {
			if (binary == null) {
				throw new IllegalStateException("No redis-server on the PATH and none in the embedded-redis jar: install "
						+ "Redis (apt-get install redis-server) to run the Redis Cluster and Sentinel tests");
			}
			Path extracted = Files.createTempFile("redis-server-", "");
			Files.copy(binary, extracted, StandardCopyOption.REPLACE_EXISTING);
			extracted.toFile().setExecutable(true);
			extracted.toFile().deleteOnExit();
			return extracted;
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/**
	 * Starts a redis-server process on a port that was free a moment ago, and waits until that process answers there.
	 * Another process can take the port between the look-up and the server's bind (an outgoing connection of the
	 * topology's own nodes gets a port from the same range): the server then exits at once, and the next free port is
	 * tried.
	 * @param parent the directory the process gets a directory of its own in, named after its port
	 * @param name the start of that directory's name
	 * @param freePort where a port comes from
	 * @param arguments the arguments for a port, in the process's directory
	 * @return the process and its port
	 */
	public static Listening startListening(Path parent, String name, IntSupplier freePort, Arguments arguments) {
		String lastLog = "";
		for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
			int port = freePort.getAsInt();
			try {
				Path directory = Files.createDirectories(parent.resolve(name + "-" + port));
				Process process = start(directory, arguments.forPort(port, directory));
				boolean answering = false;
				try {
					answering = awaitAnswering(process, port);
				}
				finally {
					if (!answering) {
						// Exited already (its port taken), or the wait was interrupted: nothing is left running.
						process.destroyForcibly().waitFor();
					}
				}
				if (answering) {
					return new Listening(port, process);
				}
				lastLog = Files.readString(directory.resolve("redis.log"));
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				throw new IllegalStateException(ex);
			}
		}
		throw new IllegalStateException("No redis-server of " + name + " answered on any of " + START_ATTEMPTS
				+ " free ports; the last one logged:\n" + lastLog);
	}

	// Until the process itself answers on the port (INFO gives its process id), or it has exited.
	private static boolean awaitAnswering(Process process, int port) throws InterruptedException {
		long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
		while (process.isAlive() && System.nanoTime() - deadline < 0) {
			if (answersAs(port, process.pid())) {
				return true;
			}
			Thread.sleep(50);
		}
		return false;
	}

	private static boolean answersAs(int port, long pid) {
		try (Socket socket = new Socket()) {
			socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
			socket.setSoTimeout(1000);
			socket.getOutputStream().write("INFO server\r\n".getBytes(StandardCharsets.US_ASCII));
			BufferedReader reply = new BufferedReader(
					new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
			for (String line = reply.readLine(); line != null; line = reply.readLine()) {
				if (line.startsWith("process_id:")) {
					return line.equals("process_id:" + pid);
				}
			}
			return false;
		}
		catch (IOException ex) {
			return false;
		}
	}

	private static Process start(Path directory, List<String> arguments) {
		List<String> command = new ArrayList<>();
		command.add(path().toString());
		command.addAll(arguments);
		try {
			return new ProcessBuilder(command).directory(directory.toFile())
				.redirectErrorStream(true)
				.redirectOutput(ProcessBuilder.Redirect.appendTo(directory.resolve("redis.log").toFile()))
				.start();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** A started redis-server process and the port it answers on. */
	public record Listening(int port, Process process) {
	}

	/** The arguments of a redis-server process for the port it is tried on. */
	@FunctionalInterface
	public interface Arguments {

		/**
		 * The arguments after the binary.
		 * @param port the port
		 * @param directory the process's working directory (config files, logs)
		 * @return the arguments
		 * @throws IOException if a file the arguments name could not be written
		 */
		List<String> forPort(int port, Path directory) throws IOException;

	}

}
