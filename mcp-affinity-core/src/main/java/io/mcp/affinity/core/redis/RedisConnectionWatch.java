package io.mcp.affinity.core.redis;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.event.Event;
import io.lettuce.core.event.connection.ConnectionActivatedEvent;
import io.lettuce.core.event.connection.ReconnectFailedEvent;
import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import org.jspecify.annotations.Nullable;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import reactor.core.Disposable;

/**
 * Reports, as it happens, that the Redis client cannot reach Redis: a reconnect that failed (refused, or no route).
 * While Lettuce reconnects it queues commands rather than failing them, so without this the only sign of a stopped
 * Redis would be calls that time out, and a slow Redis looks the same.
 * <p>
 * On a Redis Cluster only nodes that serve slots count: a master that failed over stays in the topology without slots,
 * and the client keeps trying to reconnect to it long after its replica took over. One such node is an outage for as
 * long as a failover may replace it, and then a partial outage that the store does not take for its own (see
 * {@link ClusterNodeOutages}); the watch tells which through {@link #isOutageOngoing()}. A node that serves slots and
 * cannot be reached also sets a {@link ClusterFailoverFollower} going, so the client's view catches up with a failover.
 */
public final class RedisConnectionWatch implements AutoCloseable {

	private final Disposable subscription;

	private final @Nullable ClusterFailoverFollower follower;

	private final @Nullable ClusterNodeOutages clusterOutages;

	private final AtomicReference<Runnable> onOutageOver;

	private RedisConnectionWatch(Disposable subscription, @Nullable ClusterFailoverFollower follower,
			@Nullable ClusterNodeOutages clusterOutages, AtomicReference<Runnable> onOutageOver) {
		this.subscription = subscription;
		this.follower = follower;
		this.clusterOutages = clusterOutages;
		this.onOutageOver = onOutageOver;
	}

	/**
	 * Starts watching the connections of a started connection factory.
	 * @param connectionFactory the factory whose client to watch
	 * @param onUnreachable told each time a reconnect fails, with an
	 * {@linkplain OwnershipStoreUnavailableException#isUnreachable() unreachable} exception
	 * @return the watch; close it to stop
	 */
	public static RedisConnectionWatch start(LettuceConnectionFactory connectionFactory,
			Consumer<OwnershipStoreUnavailableException> onUnreachable) {
		Objects.requireNonNull(onUnreachable, "onUnreachable must not be null");
		AbstractRedisClient client = connectionFactory.getRequiredNativeClient();
		ClusterNodeOutages outages = (client instanceof RedisClusterClient cluster)
				? new ClusterNodeOutages(cluster::getPartitions) : null;
		AtomicReference<Runnable> onOutageOver = new AtomicReference<>(() -> {
		});
		ClusterFailoverFollower follower = (client instanceof RedisClusterClient cluster && outages != null)
				? new ClusterFailoverFollower(cluster, () -> {
					if (!outages.ongoing()) {
						onOutageOver.get().run();
					}
				}) : null;
		Disposable subscription = client.getResources().eventBus().get().subscribe((Event event) -> {
			if (event instanceof ConnectionActivatedEvent connected && outages != null) {
				outages.connected(connected.remoteAddress());
			}
			else if (event instanceof ReconnectFailedEvent failed) {
				if (follower != null && outages != null && outages.servesSlots(failed.remoteAddress())) {
					follower.nodeUnreachable();
				}
				if (outages == null || outages.reconnectFailed(failed.remoteAddress())) {
					onUnreachable.accept(new OwnershipStoreUnavailableException("Redis unreachable: reconnect attempt "
							+ failed.getAttempt() + " failed (" + failed.getCause().getMessage() + ")",
							failed.getCause(), true));
				}
			}
		});
		return new RedisConnectionWatch(subscription, follower, outages, onOutageOver);
	}

	/**
	 * Whether an outage reported through {@code onUnreachable} still goes on though Redis answers some calls: on a Redis
	 * Cluster, a node that serves slots is unreachable and still counts (see {@link ClusterNodeOutages}). Never on a
	 * single Redis or one behind Sentinel, where any answer comes from the one master.
	 * @return whether an answer from Redis is not the end of the outage
	 */
	public boolean isOutageOngoing() {
		return this.clusterOutages != null && this.clusterOutages.ongoing();
	}

	/**
	 * Sets what to do when the client's view of a Redis Cluster, refreshed while a node was unreachable, shows none
	 * that serves slots unreachable any more (a replica took the slots over, or the node is back): the store can ask
	 * Redis at once whether the outage is over, rather than at its next call or heartbeat (a heartbeat sent during the
	 * failover waits out the operation timeout on the dead node's connection). Called after each such refresh, outage
	 * or not; never on a single Redis or one behind Sentinel.
	 * @param onOutageOver what to run
	 */
	public void setOnOutageOver(Runnable onOutageOver) {
		this.onOutageOver.set(Objects.requireNonNull(onOutageOver, "onOutageOver must not be null"));
	}

	@Override
	public void close() {
		this.subscription.dispose();
		if (this.follower != null) {
			this.follower.close();
		}
	}

}
