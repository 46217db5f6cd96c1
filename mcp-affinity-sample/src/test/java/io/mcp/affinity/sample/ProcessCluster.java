package io.mcp.affinity.sample;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import io.mcp.affinity.sample.cluster.LocalCluster;
import io.mcp.affinity.sample.cluster.RoundRobinFrontDoor;

/**
 * Sample instances as real processes (the packaged jar), started together, a Redis of the test's own and a round-robin
 * front door: instances can be killed with SIGKILL, stopped with SIGTERM and restarted at the same address; Redis can
 * be stopped and started again, empty.
 */
final class ProcessCluster implements AutoCloseable {

	/**
	 * Settings of the fault suite, which kills instances and waits for the others to notice: with the production
	 * heartbeat (a 15 s time-to-live) each fault would take a quarter of a minute to show. Nothing in them makes a
	 * request pass that would fail with the defaults; the debug log shows every routing decision when one fails.
	 */
	static final List<String> FAST_DEATH_DETECTION = List.of("--mcp.affinity.heartbeat.interval=500ms",
			"--mcp.affinity.heartbeat.time-to-live=3s", "--logging.level.io.mcp.affinity=DEBUG");

	// Each cluster of a test run logs to a folder of its own.
	private static final AtomicInteger CLUSTERS = new AtomicInteger();

	final EmbeddedRedis redis = EmbeddedRedis.start();

	private final List<String> arguments;

	private final List<String> redisArguments;

	private final String jar = System.getProperty("sample.jar");

	private final List<URI> addresses = new ArrayList<>();

	private final Process[] processes;

	private final Path logs;

	private final RoundRobinFrontDoor frontDoor;

	ProcessCluster(int size) throws Exception {
		this(size, FAST_DEATH_DETECTION, ProcessCluster::standalone);
	}

	/** Arguments that point the instances at the cluster's own Redis. */
	static List<String> standalone(EmbeddedRedis redis) {
		return standalone(redis.port());
	}

	/** Arguments that point the instances at a Redis on a loopback port. */
	static List<String> standalone(int port) {
		return List.of("--spring.data.redis.host=127.0.0.1", "--spring.data.redis.port=" + port);
	}

	/**
	 * Starts a cluster.
	 * @param size how many instances
	 * @param arguments arguments for every instance besides its address, Redis and the forwarding secret; none for
	 * the production defaults
	 * @param redisArguments the {@code spring.data.redis.*} arguments of the instances, given the cluster's own Redis
	 * (which they may point at directly, through a proxy, or not at all for a topology of the test's)
	 */
	ProcessCluster(int size, List<String> arguments, Function<EmbeddedRedis, List<String>> redisArguments)
			throws Exception {
		this.arguments = List.copyOf(arguments);
		this.redisArguments = List.copyOf(redisArguments.apply(this.redis));
		this.processes = new Process[size];
		this.logs = Files.createDirectories(Path.of("target", "process-cluster", "cluster-" + CLUSTERS.incrementAndGet()));
		for (int i = 0; i < size; i++) {
			this.addresses.add(URI.create("http://127.0.0.1:" + TestRedis.freePort()));
		}
		for (int i = 0; i < size; i++) {
			start(i);
		}
		for (int i = 0; i < size; i++) {
			awaitReady(i);
		}
		this.frontDoor = new RoundRobinFrontDoor(0, this.addresses);
	}

	URI frontDoor() {
		return this.frontDoor.address();
	}

	List<URI> addresses() {
		return List.copyOf(this.addresses);
	}

	int indexOf(String address) {
		return this.addresses.indexOf(URI.create(address));
	}

	private void start(int index) {
		start(index, List.of());
	}

	private void start(int index, List<String> moreArguments) {
		URI address = this.addresses.get(index);
		try {
			List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
					"-jar", this.jar, "--server.port=" + address.getPort(), "--server.address=127.0.0.1",
					"--mcp.affinity.local-server-address=" + address,
					"--mcp.affinity.forwarding.secret=process-cluster-secret",
					"--spring.lifecycle.timeout-per-shutdown-phase=3s", "--spring.main.banner-mode=off"));
			command.addAll(this.redisArguments);
			command.addAll(this.arguments);
			command.addAll(moreArguments);
			this.processes[index] = new ProcessBuilder(command)
				.redirectErrorStream(true)
				.redirectOutput(ProcessBuilder.Redirect.appendTo(this.logs.resolve("instance-" + index + ".log").toFile()))
				.start();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** SIGKILL: no shutdown of any kind; the front door stops sending it requests, as a health check would. */
	void kill(int index) throws InterruptedException {
		this.frontDoor.exclude(index);
		this.processes[index].destroyForcibly().waitFor(30, TimeUnit.SECONDS);
	}

	/** SIGTERM: graceful shutdown. */
	void stop(int index) throws InterruptedException {
		this.frontDoor.exclude(index);
		this.processes[index].destroy();
		this.processes[index].waitFor(60, TimeUnit.SECONDS);
	}

	/** Starts a stopped or killed instance again at the same address (a new epoch) and back into rotation. */
	void restart(int index) throws InterruptedException {
		restart(index, List.of());
	}

	/**
	 * Starts a stopped or killed instance again at the same address (a new epoch), with more arguments than the
	 * others (later ones win), and back into rotation.
	 */
	void restart(int index, List<String> moreArguments) throws InterruptedException {
		start(index, moreArguments);
		awaitReady(index);
		this.frontDoor.include(index);
	}

	private void awaitReady(int index) throws InterruptedException {
		LocalCluster.awaitReady(this.addresses.get(index), List.of(this.processes[index]));
	}

	@Override
	public void close() {
		this.frontDoor.close();
		for (Process process : this.processes) {
			if (process != null) {
				process.destroyForcibly();
			}
		}
		this.redis.stop();
	}

}
