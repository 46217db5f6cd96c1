package io.mcp.affinity.sample.cluster;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.jspecify.annotations.Nullable;
import redis.embedded.RedisServer;

/**
 * The main job in one command: a local cluster of sample instances, each its own JVM, sharing one Redis, behind a
 * round-robin front door with no stickiness. Nothing needs to be installed: Redis is the redis-server binary shipped
 * in the embedded-redis jar, unless {@code --redis=redis://host:port} names one. Ctrl-C stops everything.
 * <p>
 * Options: {@code --port=8080} (front door), {@code --instances=3}, {@code --redis=redis://host:port}. Every other
 * argument is passed on to each instance, e.g. {@code --spring.profiles.active=conformance}.
 */
public final class LocalCluster {

	private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);

	private static final List<String> OWN_OPTIONS = List.of("--local-cluster", "--port=", "--instances=", "--redis=");

	private final List<Process> instances = new ArrayList<>();

	private @Nullable RedisServer redis;

	private @Nullable RoundRobinFrontDoor frontDoor;

	public static void main(String[] args) throws Exception {
		int port = intOption(args, "--port=", 8080);
		int size = intOption(args, "--instances=", 3);
		String redisUrl = option(args, "--redis=");
		LocalCluster cluster = new LocalCluster();
		CountDownLatch stopped = new CountDownLatch(1);
		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			cluster.stop();
			stopped.countDown();
		}, "local-cluster-shutdown"));
		cluster.start(port, size, redisUrl, instanceArguments(args));
		stopped.await();
	}

	void start(int port, int size, @Nullable String redisUrl, List<String> instanceArguments)
			throws IOException, InterruptedException {
		URI redisUri = (redisUrl != null) ? URI.create(redisUrl) : startEmbeddedRedis();
		Path logs = Files.createTempDirectory("mcp-affinity-cluster-");
		List<URI> addresses = new ArrayList<>();
		for (int i = 1; i <= size; i++) {
			int instancePort = freePort();
			URI address = URI.create("http://127.0.0.1:" + instancePort);
			addresses.add(address);
			Path log = logs.resolve("instance-" + i + ".log");
			List<String> command = new ArrayList<>(List.of(javaCommand(), "-jar", ownJar(),
					"--server.port=" + instancePort, "--server.address=127.0.0.1",
					"--mcp.affinity.local-server-address=" + address, "--spring.data.redis.host=" + redisUri.getHost(),
					"--spring.data.redis.port=" + redisUri.getPort(), "--spring.main.banner-mode=off"));
			command.addAll(instanceArguments);
			this.instances.add(new ProcessBuilder(command).redirectErrorStream(true)
				.redirectOutput(log.toFile())
				.start());
			System.out.println("instance " + i + ": " + address + " (log: " + log + ")");
		}
		for (URI address : addresses) {
			awaitReady(address, this.instances);
		}
		this.frontDoor = new RoundRobinFrontDoor(port, addresses);
		URI url = this.frontDoor.address().resolve("/mcp");
		System.out.println();
		System.out.println("Local MCP cluster ready: " + size + " instances, Redis at " + redisUri.getHost() + ":"
				+ redisUri.getPort() + ", round-robin front door with no stickiness.");
		System.out.println();
		System.out.println("  Point any MCP client (Streamable HTTP) at:  " + url);
		System.out.println("  e.g. npx @modelcontextprotocol/inspector, transport 'Streamable HTTP', URL " + url);
		System.out.println();
		System.out.println("  Try: remember {key, value} then recall {key}; session_info shows which instance holds");
		System.out.println("  your session (every call lands on another instance, the state is always there);");
		System.out.println("  countdown {from: 5, delayMs: 500} streams progress; ask_client and confirm ask you back.");
		System.out.println();
		System.out.println("READY " + url);
		System.out.println("Ctrl-C stops the cluster.");
	}

	synchronized void stop() {
		// Instances first: they are what must not outlive the launcher.
		this.instances.forEach(Process::destroy);
		for (Process instance : this.instances) {
			try {
				if (!instance.waitFor(15, TimeUnit.SECONDS)) {
					instance.destroyForcibly();
				}
			}
			catch (InterruptedException ex) {
				instance.destroyForcibly();
				Thread.currentThread().interrupt();
			}
		}
		this.instances.clear();
		try {
			if (this.frontDoor != null) {
				this.frontDoor.close();
			}
		}
		catch (RuntimeException ex) {
			System.err.println("Could not stop the front door cleanly: " + ex);
		}
		this.frontDoor = null;
		try {
			if (this.redis != null) {
				this.redis.stop();
			}
		}
		catch (IOException | RuntimeException ex) {
			System.err.println("Could not stop the embedded Redis: " + ex);
		}
		this.redis = null;
		System.out.println("Local MCP cluster stopped.");
	}

	private URI startEmbeddedRedis() throws IOException {
		int port = freePort();
		this.redis = RedisServer.newRedisServer()
			.port(port)
			.bind("127.0.0.1")
			.setting("save \"\"")
			.setting("appendonly no")
			.build();
		this.redis.start();
		return URI.create("redis://127.0.0.1:" + port);
	}

	/**
	 * Waits until an instance answers on its MCP endpoint (any answer below 500 will do).
	 * @param address the instance
	 * @param processes processes whose exit means start-up failed
	 * @throws IllegalStateException if a process exits, or the instance does not answer in time
	 * @throws InterruptedException if interrupted while waiting
	 */
	public static void awaitReady(URI address, List<Process> processes) throws InterruptedException {
		HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
		long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
		while (System.nanoTime() - deadline < 0) {
			for (Process process : processes) {
				if (!process.isAlive()) {
					throw new IllegalStateException("An instance exited during start-up; see its log");
				}
			}
			try {
				HttpResponse<Void> response = http.send(HttpRequest.newBuilder(address.resolve("/mcp"))
					.timeout(Duration.ofSeconds(2))
					.DELETE()
					.build(), HttpResponse.BodyHandlers.discarding());
				if (response.statusCode() < 500) {
					return;
				}
			}
			catch (IOException ex) {
				// Not listening yet.
			}
			Thread.sleep(250);
		}
		throw new IllegalStateException(address + " did not start within " + READY_TIMEOUT);
	}

	private static String javaCommand() {
		return ProcessHandle.current().info().command().orElse("java");
	}

	private static String ownJar() {
		String classPath = System.getProperty("java.class.path");
		if (classPath == null || classPath.contains(File.pathSeparator) || !classPath.endsWith(".jar")) {
			throw new IllegalStateException(
					"Run the local cluster from the sample jar: java -jar mcp-affinity-sample/target/mcp-affinity-sample-<version>.jar --local-cluster");
		}
		return classPath;
	}

	private static int freePort() {
		try (ServerSocket socket = new ServerSocket(0)) {
			return socket.getLocalPort();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private static @Nullable String option(String[] args, String prefix) {
		for (String arg : args) {
			if (arg.startsWith(prefix)) {
				return arg.substring(prefix.length());
			}
		}
		return null;
	}

	// What the launcher does not consume is meant for the instances.
	private static List<String> instanceArguments(String[] args) {
		List<String> passedOn = new ArrayList<>();
		for (String arg : args) {
			if (OWN_OPTIONS.stream().noneMatch(arg::startsWith)) {
				passedOn.add(arg);
			}
		}
		return passedOn;
	}

	private static int intOption(String[] args, String prefix, int fallback) {
		String value = option(args, prefix);
		return (value != null) ? Integer.parseInt(value) : fallback;
	}

}
