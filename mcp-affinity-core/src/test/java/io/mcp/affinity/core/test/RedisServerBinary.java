package io.mcp.affinity.core.test;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The redis-server binary that multi-node topologies (Redis Cluster, Sentinel) are started from: the one on the
 * {@code PATH} (CI installs Redis 7.0), else the Linux binary shipped in the embedded-redis jar (Redis 6.2), so the
 * tests also run on a fresh machine with no Redis installed.
 */
public final class RedisServerBinary {

	private static final String EMBEDDED = "/redis-server-6.2.6-v5-linux-amd64";

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
	 * Starts a redis-server process in a directory of its own, logging to a file there.
	 * @param directory working directory (config files, logs)
	 * @param arguments arguments after the binary
	 * @return the process
	 */
	public static Process start(Path directory, List<String> arguments) {
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

}
