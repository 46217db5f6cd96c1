package io.mcp.affinity.core.test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.mcp.affinity.core.test.RedisServerBinary.Listening;
import org.springframework.data.redis.connection.RedisNode;
import org.springframework.data.redis.connection.RedisSentinelConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * Redis with Sentinel on loopback: one master, one replica and three sentinels (quorum two), started from
 * {@link RedisServerBinary} by the test that needs it, and stopped with it. The sentinels take a master that does not
 * answer for {@value #DOWN_AFTER_MILLIS} ms for down and promote the replica.
 */
public final class LocalRedisSentinel implements LocalRedisTopology {

	/** The name the sentinels monitor the master under. */
	public static final String MASTER_NAME = "mcp-affinity";

	/** How long the master may not answer before the sentinels agree it is down. */
	public static final int DOWN_AFTER_MILLIS = 2000;

	private final Path directory;

	private final List<Process> processes = new ArrayList<>();

	private final List<Integer> dataPorts = new ArrayList<>();

	private final List<Integer> sentinelPorts = new ArrayList<>();

	private LocalRedisSentinel() throws IOException {
		this.directory = Files.createTempDirectory("redis-sentinel-");
	}

	/**
	 * Starts the master, its replica and the sentinels, and waits until the sentinels know both.
	 * @return the set-up
	 */
	public static LocalRedisSentinel start() {
		LocalRedisSentinel sentinel;
		try {
			sentinel = new LocalRedisSentinel();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		try {
			int master = sentinel.startData(List.of());
			int replica = sentinel.startData(List.of("--replicaof", "127.0.0.1", Integer.toString(master)));
			// The sentinels learn of the replica from the master's INFO, asked every ten seconds: a replica linked
			// before they first ask is known at once.
			Waiting.until(Duration.ofSeconds(30), () -> LocalRedisCluster.admin(replica,
					(redis) -> redis.info("replication").contains("master_link_status:up") ? "linked" : null));
			for (int i = 0; i < 3; i++) {
				sentinel.startSentinel(master);
			}
			for (int port : sentinel.sentinelPorts) {
				Waiting.until(Duration.ofSeconds(30), () -> sentinel.sentinelSees(port));
			}
			return sentinel;
		}
		catch (RuntimeException ex) {
			// A set-up that never got ready leaves no process behind.
			sentinel.close();
			throw ex;
		}
	}

	private int startData(List<String> extra) {
		Listening server = RedisServerBinary.startListening(this.directory, "redis", TestRedis::freePort,
				(port, directory) -> {
					List<String> arguments = new ArrayList<>(List.of("--port", Integer.toString(port), "--bind",
							"127.0.0.1", "--save", "", "--appendonly", "no"));
					arguments.addAll(extra);
					return arguments;
				});
		this.processes.add(server.process());
		this.dataPorts.add(server.port());
		return server.port();
	}

	private void startSentinel(int master) {
		Listening server = RedisServerBinary.startListening(this.directory, "sentinel", TestRedis::freePort,
				(port, directory) -> {
					// A sentinel rewrites its configuration file, so each gets a writable one of its own.
					Path config = directory.resolve("sentinel.conf");
					Files.writeString(config, String.join("\n", "port " + port, "bind 127.0.0.1",
							"sentinel monitor " + MASTER_NAME + " 127.0.0.1 " + master + " 2",
							"sentinel down-after-milliseconds " + MASTER_NAME + " " + DOWN_AFTER_MILLIS,
							"sentinel failover-timeout " + MASTER_NAME + " 10000",
							"sentinel parallel-syncs " + MASTER_NAME + " 1", ""));
					return List.of(config.toString(), "--sentinel");
				});
		this.processes.add(server.process());
		this.sentinelPorts.add(server.port());
	}

	// Whether a sentinel knows the master, its replica and the other sentinels; what it lacks, if not.
	private String sentinelSees(int port) {
		RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", port));
		try (StatefulRedisSentinelConnection<String, String> connection = client.connectSentinel()) {
			var master = connection.sync().master(MASTER_NAME);
			if ("2".equals(master.get("num-other-sentinels")) && "1".equals(master.get("num-slaves"))) {
				return "ready";
			}
			throw new IllegalStateException("The sentinel on port " + port + " sees " + master.get("num-slaves")
					+ " replica(s) and " + master.get("num-other-sentinels") + " other sentinel(s); the master is "
					+ master.get("flags"));
		}
		finally {
			client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
		}
	}

	/** The port of the master as the sentinels see it now. */
	public int masterPort() {
		for (int port : this.sentinelPorts) {
			try {
				RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", port));
				try (StatefulRedisSentinelConnection<String, String> connection = client.connectSentinel()) {
					return ((java.net.InetSocketAddress) connection.sync().getMasterAddrByName(MASTER_NAME)).getPort();
				}
				finally {
					client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
				}
			}
			catch (RuntimeException ex) {
				// That sentinel does not answer; ask the next.
			}
		}
		throw new IllegalStateException("No sentinel answers");
	}

	/**
	 * Kills the current master with SIGKILL.
	 * @return the port it had
	 */
	public int killMaster() throws InterruptedException {
		int port = masterPort();
		this.processes.get(this.dataPorts.indexOf(port)).destroyForcibly().waitFor();
		return port;
	}

	/** {@code host:port} of every sentinel. */
	public List<String> sentinels() {
		return this.sentinelPorts.stream().map((port) -> "127.0.0.1:" + port).toList();
	}

	/** Arguments that point a Spring Boot application at the sentinels. */
	@Override
	public List<String> springArguments() {
		return List.of("--spring.data.redis.sentinel.master=" + MASTER_NAME,
				"--spring.data.redis.sentinel.nodes=" + String.join(",", sentinels()));
	}

	/** A started connection factory that finds the master through the sentinels; the caller destroys it. */
	@Override
	public LettuceConnectionFactory connectionFactory() {
		RedisSentinelConfiguration configuration = new RedisSentinelConfiguration();
		configuration.master(MASTER_NAME);
		this.sentinelPorts.forEach((port) -> configuration.sentinel(new RedisNode("127.0.0.1", port)));
		LettuceConnectionFactory factory = new LettuceConnectionFactory(configuration,
				LettuceClientConfiguration.defaultConfiguration());
		factory.afterPropertiesSet();
		factory.start();
		return factory;
	}

	@Override
	public void close() {
		LocalRedisTopology.stop(this.processes, this.directory);
	}

}
