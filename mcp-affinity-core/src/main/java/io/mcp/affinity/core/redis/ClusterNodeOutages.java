package io.mcp.affinity.core.redis;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes of a Redis Cluster that serve slots and that the client cannot reach, as its failed reconnects tell, and
 * what that means for the ownership store. One such node is an outage of the store while a failover may still replace
 * it: the store is degraded, and answers from the other nodes do not end that (they would end and restart it at each
 * failed reconnect, a republish of every local session each time). A node still unreachable after
 * {@link #PARTIAL_AFTER}, while another node that serves slots is not, is a partial outage instead: no failover is coming (no
 * replica, or {@code cluster-require-full-coverage no} keeping the rest of the cluster up), so it no longer counts;
 * the rest of the cluster serves the rest of the sessions, and calls for that node's slots fail alone, at the
 * operation timeout. Every node that serves slots unreachable is an outage however long it lasts.
 * <p>
 * A node is reachable again once the client connects to it, once it serves no slots in the client's view (its replica
 * took over), or once no reconnect to it has failed for {@link #QUIET_AFTER}.
 */
final class ClusterNodeOutages {

	private static final Logger logger = LoggerFactory.getLogger(ClusterNodeOutages.class);

	/**
	 * How long one unreachable node is an outage of the store: longer than a failover takes with Redis's default
	 * {@code cluster-node-timeout} (15 s, then an election of about a second).
	 */
	static final Duration PARTIAL_AFTER = Duration.ofSeconds(30);

	/**
	 * A node whose reconnects keep failing reports one at least this often: a reconnect attempt every back-off (the
	 * starter caps it at a second), each failing at once when refused, or after the connect timeout (10 s by default)
	 * when nothing answers at all.
	 */
	static final Duration QUIET_AFTER = Duration.ofSeconds(15);

	private final Supplier<Partitions> partitions;

	private final LongSupplier nanoTime;

	// By "host:port" as the client's view of the cluster names the node.
	private final Map<String, Outage> unreachable = new ConcurrentHashMap<>();

	ClusterNodeOutages(Supplier<Partitions> partitions) {
		this(partitions, System::nanoTime);
	}

	ClusterNodeOutages(Supplier<Partitions> partitions, LongSupplier nanoTime) {
		this.partitions = partitions;
		this.nanoTime = nanoTime;
	}

	/**
	 * A reconnect to the node at an address failed.
	 * @param address the node's address
	 * @return whether the store is to take it as an outage
	 */
	boolean reconnectFailed(SocketAddress address) {
		if (!servesSlots(address)) {
			// A failed-over master stays in the topology without slots, and the client keeps trying it.
			this.unreachable.remove(key(address));
			return false;
		}
		long now = this.nanoTime.getAsLong();
		Outage outage = this.unreachable.compute(key(address),
				(node, current) -> (current == null || current.endedBy(now)) ? new Outage(now) : current.failedAgain(now));
		if (outage.isShort(now) || everyNodeUnreachable(now)) {
			return true;
		}
		if (!outage.partial) {
			outage.partial = true;
			logger.warn("RedisClusterNodeUnreachable node={} for {} s while other masters are reachable: a partial outage, "
					+ "serving the sessions of their slots; calls for this node's slots fail until it or a replica of it "
					+ "is back",
					key(address), PARTIAL_AFTER.toSeconds());
		}
		return false;
	}

	/**
	 * The client connected to the node at an address.
	 * @param address the node's address, as the connection has it
	 */
	void connected(SocketAddress address) {
		if (address instanceof InetSocketAddress node) {
			this.unreachable.remove(node.getHostString() + ":" + node.getPort());
			if (node.getAddress() != null) {
				this.unreachable.remove(node.getAddress().getHostAddress() + ":" + node.getPort());
			}
		}
	}

	/** Whether an outage goes on: one node unreachable not yet for {@link #PARTIAL_AFTER}, or every node. */
	boolean ongoing() {
		if (this.unreachable.isEmpty()) {
			return false;
		}
		long now = this.nanoTime.getAsLong();
		Partitions partitions = this.partitions.get();
		this.unreachable.entrySet()
			.removeIf((entry) -> entry.getValue().endedBy(now) || !servesSlots(partitions, entry.getKey()));
		for (Outage outage : this.unreachable.values()) {
			if (outage.isShort(now)) {
				return true;
			}
		}
		return !this.unreachable.isEmpty() && everyNodeUnreachable(now);
	}

	private boolean everyNodeUnreachable(long now) {
		for (RedisClusterNode node : this.partitions.get()) {
			RedisURI uri = node.getUri();
			if (uri == null || node.getSlots().isEmpty()) {
				continue;
			}
			Outage outage = this.unreachable.get(key(uri));
			if (outage == null || outage.endedBy(now)) {
				return false;
			}
		}
		return true;
	}

	/**
	 * Whether the node at an address serves slots now, in the client's view.
	 * @param address the node's address
	 * @return {@code false} for an address the view does not know too
	 */
	boolean servesSlots(SocketAddress address) {
		return !(address instanceof InetSocketAddress) || servesSlots(this.partitions.get(), key(address));
	}

	private static boolean servesSlots(Partitions partitions, String key) {
		for (RedisClusterNode member : partitions) {
			RedisURI uri = member.getUri();
			if (uri != null && key.equals(key(uri))) {
				return !member.getSlots().isEmpty();
			}
		}
		return false;
	}

	private static String key(RedisURI uri) {
		return uri.getHost() + ":" + uri.getPort();
	}

	private static String key(SocketAddress address) {
		return (address instanceof InetSocketAddress node) ? node.getHostString() + ":" + node.getPort()
				: address.toString();
	}

	/** One node's failed reconnects in a row. */
	private static final class Outage {

		private final long since;

		private final long last;

		// Logged once as a partial outage.
		volatile boolean partial;

		private Outage(long since, long last, boolean partial) {
			this.since = since;
			this.last = last;
			this.partial = partial;
		}

		Outage(long now) {
			this(now, now, false);
		}

		Outage failedAgain(long now) {
			return new Outage(this.since, now, this.partial);
		}

		boolean endedBy(long now) {
			return now - this.last > QUIET_AFTER.toNanos();
		}

		boolean isShort(long now) {
			return now - this.since < PARTIAL_AFTER.toNanos();
		}

	}

}
