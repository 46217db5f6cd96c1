package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.lettuce.core.cluster.RedisClusterClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refreshes a Redis Cluster client's topology itself, once a second, while a node that serves slots in the client's
 * view cannot be reached, and for a while after the last failed attempt: so a failover is followed within about a
 * second of the cluster promoting a replica, whatever became of the client's own refresh.
 * <p>
 * Why not leave it to Lettuce: its periodic and adaptive refreshes share one in-progress flag, so a refresh that
 * never completes stops every later one for good (a CI run caught an instance that refreshed no more after a
 * master's death, the others every 5 s); the client then sends the failed master's slots to the dead node for as
 * long as it runs. Its adaptive triggers are also limited to one every 30 s by default, and the periodic one is off
 * unless configured. {@link RedisClusterClient#refreshPartitionsAsync()} does not go through that flag. A refresh
 * costs one {@code CLUSTER NODES} and one {@code INFO} per node.
 */
final class ClusterFailoverFollower implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(ClusterFailoverFollower.class);

	/** Between two refreshes of ours. */
	static final Duration INTERVAL = Duration.ofSeconds(1);

	/**
	 * How long refreshes go on after the last failed reconnect to a node that serves slots: past the longest wait
	 * between two reconnect attempts (the starter caps it at a second; Lettuce's default grows to 30 s, and then
	 * following pauses between attempts while a node stays down with no replica to take over).
	 */
	static final Duration FOLLOW_FOR = Duration.ofSeconds(10);

	/** A refresh that has not completed by then is given up (it connects to every node, with their timeouts). */
	static final Duration REFRESH_TIMEOUT = Duration.ofSeconds(10);

	private final RedisClusterClient client;

	private final Runnable afterRefresh;

	private final AtomicLong followUntil = new AtomicLong();

	private final AtomicBoolean following = new AtomicBoolean();

	private volatile boolean closed;

	/**
	 * Creates a follower.
	 * @param client the client whose topology to refresh
	 * @param afterRefresh run after each refresh of ours, done or failed
	 */
	ClusterFailoverFollower(RedisClusterClient client, Runnable afterRefresh) {
		this.client = client;
		this.afterRefresh = afterRefresh;
	}

	/** A node that serves slots in the client's view could not be reached: follow the topology from now on. */
	void nodeUnreachable() {
		this.followUntil.set(System.nanoTime() + FOLLOW_FOR.toNanos());
		if (this.following.compareAndSet(false, true)) {
			refresh();
		}
	}

	private void refresh() {
		if (this.closed) {
			this.following.set(false);
			return;
		}
		CompletableFuture<Void> refreshed;
		try {
			refreshed = this.client.refreshPartitionsAsync().toCompletableFuture();
		}
		catch (RuntimeException ex) {
			refreshed = CompletableFuture.failedFuture(ex);
		}
		refreshed.orTimeout(REFRESH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).whenComplete((ignored, failure) -> {
			if (failure != null) {
				logger.debug("Cluster topology refresh after an unreachable node failed: {}", failure.toString());
			}
			try {
				this.afterRefresh.run();
			}
			catch (RuntimeException ex) {
				logger.debug("After a cluster topology refresh: {}", ex.toString());
			}
			next();
		});
	}

	private void next() {
		if (this.closed || System.nanoTime() - this.followUntil.get() >= 0) {
			this.following.set(false);
			// A failure reported just now, after the deadline was read, found following still on: take it up.
			if (this.closed || System.nanoTime() - this.followUntil.get() >= 0 || !this.following.compareAndSet(false, true)) {
				return;
			}
		}
		try {
			this.client.getResources()
				.eventExecutorGroup()
				.schedule(this::refresh, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
		}
		catch (RuntimeException ex) {
			// The client's resources are shutting down: nothing left to follow.
			this.following.set(false);
		}
	}

	@Override
	public void close() {
		this.closed = true;
	}

}
