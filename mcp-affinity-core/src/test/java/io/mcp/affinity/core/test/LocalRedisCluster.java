package io.mcp.affinity.core.test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.SlotHash;
import io.mcp.affinity.core.test.RedisServerBinary.Listening;
import org.springframework.data.redis.connection.RedisClusterConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * A Redis Cluster of three masters and three replicas on loopback, started from {@link RedisServerBinary} by the test
 * that needs it, and stopped with it. Nodes fail over after {@value #NODE_TIMEOUT_MILLIS} ms.
 */
public final class LocalRedisCluster implements LocalRedisTopology {

	/** How long a master may be unreachable before its replica takes over. */
	public static final int NODE_TIMEOUT_MILLIS = 2000;

	private static final int SLOTS = 16384;

	private final List<Listening> nodes = new ArrayList<>();

	private final Path directory;

	private LocalRedisCluster() throws IOException {
		this.directory = Files.createTempDirectory("redis-cluster-");
	}

	/**
	 * Starts six nodes, assigns the slots to the first three, makes the others their replicas, and waits until the
	 * cluster is up everywhere.
	 * @return the cluster
	 */
	public static LocalRedisCluster start() {
		LocalRedisCluster cluster;
		try {
			cluster = new LocalRedisCluster();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		try {
			for (int i = 0; i < 6; i++) {
				cluster.nodes.add(RedisServerBinary.startListening(cluster.directory, "node",
						LocalRedisCluster::freeNodePort,
						(port, directory) -> List.of("--port", Integer.toString(port), "--bind", "127.0.0.1",
								"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
								"--cluster-node-timeout", Integer.toString(NODE_TIMEOUT_MILLIS), "--save", "",
								"--appendonly", "no")));
			}
			cluster.form();
			return cluster;
		}
		catch (RuntimeException ex) {
			// A cluster that never formed leaves no process behind.
			cluster.close();
			throw ex;
		}
	}

	// A node also listens on its port + 10000 (the cluster bus) and refuses to start on a port above 55535; an
	// ephemeral port is above it about one time in five.
	private static int freeNodePort() {
		for (int attempt = 0; attempt < 100; attempt++) {
			int port = TestRedis.freePort();
			if (port <= 55535 && TestRedis.isFree(port + 10000)) {
				return port;
			}
		}
		throw new IllegalStateException("No free port pair (port, port + 10000) for a Redis Cluster node");
	}

	private void form() {
		List<String> ids = new ArrayList<>();
		for (Listening node : this.nodes) {
			ids.add(Waiting.until(Duration.ofSeconds(10), () -> admin(node.port(), RedisCommands::clusterMyId)));
		}
		for (int i = 0; i < 3; i++) {
			int from = i * SLOTS / 3;
			int to = (i + 1) * SLOTS / 3;
			int[] slots = IntStream.range(from, to).toArray();
			admin(this.nodes.get(i).port(), (redis) -> redis.clusterAddSlots(slots));
		}
		for (Listening node : this.nodes.subList(1, 6)) {
			admin(node.port(), (redis) -> redis.clusterMeet("127.0.0.1", this.nodes.get(0).port()));
		}
		for (Listening node : this.nodes) {
			Waiting.until(Duration.ofSeconds(20), () -> admin(node.port(),
					(redis) -> (redis.clusterNodes().lines().count() == 6) ? "known" : null));
		}
		for (int i = 3; i < 6; i++) {
			String master = ids.get(i - 3);
			admin(this.nodes.get(i).port(), (redis) -> redis.clusterReplicate(master));
		}
		// A replica that has never synced with its master refuses to take over from it (its data counts as too old),
		// so a master killed right after start-up would stay failed with its slots.
		for (Listening node : this.nodes.subList(3, 6)) {
			Waiting.until(Duration.ofSeconds(30), () -> admin(node.port(),
					(redis) -> redis.info("replication").contains("master_link_status:up") ? "synced" : null));
		}
		awaitHealthy();
	}

	/** Waits until every running node reports the cluster up, with every slot served. */
	public void awaitHealthy() {
		for (Listening node : this.nodes) {
			if (node.process().isAlive()) {
				Waiting.until(Duration.ofSeconds(30), () -> admin(node.port(),
						(redis) -> redis.clusterInfo().contains("cluster_state:ok") ? "ok" : null));
			}
		}
	}

	/** {@code host:port} of every node, as {@code spring.data.redis.cluster.nodes} takes them. */
	public List<String> nodes() {
		return this.nodes.stream().map((node) -> "127.0.0.1:" + node.port()).toList();
	}

	/**
	 * Arguments that point a Spring Boot application at this cluster, with topology refresh on, as a failover needs.
	 */
	@Override
	public List<String> springArguments() {
		return List.of("--spring.data.redis.cluster.nodes=" + String.join(",", nodes()),
				"--spring.data.redis.lettuce.cluster.refresh.adaptive=true",
				"--spring.data.redis.lettuce.cluster.refresh.period=5s");
	}

	/** A started connection factory to the cluster, with topology refresh on; the caller destroys it. */
	@Override
	public LettuceConnectionFactory connectionFactory() {
		return connectionFactory(LettuceClientConfiguration.builder());
	}

	/**
	 * A started connection factory to the cluster, with topology refresh on, on a client configuration of the caller's
	 * (its client resources, say); the caller destroys it.
	 * @param client the client configuration, its options left to this method
	 * @return the factory
	 */
	public LettuceConnectionFactory connectionFactory(LettuceClientConfiguration.LettuceClientConfigurationBuilder client) {
		ClusterClientOptions options = ClusterClientOptions.builder()
			.topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
				.enableAllAdaptiveRefreshTriggers()
				.enablePeriodicRefresh(Duration.ofSeconds(5))
				.build())
			.build();
		LettuceConnectionFactory factory = new LettuceConnectionFactory(new RedisClusterConfiguration(nodes()),
				client.clientOptions(options).build());
		factory.afterPropertiesSet();
		factory.start();
		return factory;
	}

	/**
	 * The port of the master that serves a key now.
	 * @param key the key
	 * @return the master's port
	 */
	public int masterOf(String key) {
		int slot = SlotHash.getSlot(key);
		for (Listening node : this.nodes) {
			if (!node.process().isAlive()) {
				continue;
			}
			String owner = admin(node.port(), (redis) -> redis.clusterNodes()
				.lines()
				.filter((line) -> line.contains("master") && !line.contains("fail") && servesSlot(line, slot))
				.map((line) -> line.split(" ")[1])
				.collect(Collectors.joining()));
			if (!owner.isEmpty()) {
				return Integer.parseInt(owner.substring(owner.indexOf(':') + 1, owner.indexOf('@')));
			}
		}
		throw new IllegalStateException("No live master serves slot " + slot);
	}

	private static boolean servesSlot(String line, int slot) {
		String[] fields = line.split(" ");
		for (int i = 8; i < fields.length; i++) {
			String[] range = fields[i].split("-");
			if (range[0].startsWith("[")) {
				continue;
			}
			int from = Integer.parseInt(range[0]);
			int to = (range.length > 1) ? Integer.parseInt(range[1]) : from;
			if (slot >= from && slot <= to) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Kills a node with SIGKILL.
	 * @param port the node's port
	 */
	public void kill(int port) throws InterruptedException {
		for (Listening node : this.nodes) {
			if (node.port() == port) {
				node.process().destroyForcibly().waitFor();
				return;
			}
		}
		throw new IllegalArgumentException("No node at port " + port);
	}

	/**
	 * Kills the master that serves a key and its replica, the rest of the cluster told to go on serving its own slots
	 * ({@code cluster-require-full-coverage no}): the key's slot stays unserved, with no failover to come.
	 * @param key the key
	 * @return the port of the master killed
	 */
	public int loseForGood(String key) throws InterruptedException {
		for (Listening node : this.nodes) {
			admin(node.port(), (redis) -> redis.configSet("cluster-require-full-coverage", "no"));
		}
		int master = masterOf(key);
		String masterId = admin(master, RedisCommands::clusterMyId);
		String replica = admin(master, (redis) -> redis.clusterNodes()
			.lines()
			.map((line) -> line.split(" "))
			.filter((fields) -> fields[2].contains("slave") && fields[3].equals(masterId))
			.map((fields) -> fields[1])
			.findFirst()
			.orElseThrow());
		kill(Integer.parseInt(replica.substring(replica.indexOf(':') + 1, replica.indexOf('@'))));
		kill(master);
		return master;
	}

	@Override
	public void close() {
		LocalRedisTopology.stop(this.nodes.stream().map(Listening::process).toList(), this.directory);
	}

	static <T> T admin(int port, java.util.function.Function<RedisCommands<String, String>, T> command) {
		RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", port));
		try (StatefulRedisConnection<String, String> connection = client.connect()) {
			return command.apply(connection.sync());
		}
		finally {
			client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
		}
	}

}
