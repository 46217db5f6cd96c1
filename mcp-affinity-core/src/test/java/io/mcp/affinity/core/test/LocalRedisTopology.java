package io.mcp.affinity.core.test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/** A scale-out Redis topology that a test starts on loopback and stops when done. */
public interface LocalRedisTopology extends AutoCloseable {

	/** A started connection factory to the topology; the caller destroys it. */
	LettuceConnectionFactory connectionFactory();

	/** Arguments that point a Spring Boot application at the topology. */
	List<String> springArguments();

	/** Stops every process of the topology and deletes its files. */
	@Override
	void close();

	/**
	 * Kills the processes, waits until they are gone, then deletes the directory they worked in: a test run leaves
	 * nothing behind in the temporary directory.
	 * @param processes the topology's processes
	 * @param directory the directory they wrote to
	 */
	static void stop(List<Process> processes, Path directory) {
		processes.forEach(Process::destroyForcibly);
		for (Process process : processes) {
			try {
				process.waitFor(10, TimeUnit.SECONDS);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return;
			}
		}
		try (Stream<Path> files = Files.walk(directory)) {
			for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
				Files.deleteIfExists(file);
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException("Could not delete " + directory, ex);
		}
	}

}
