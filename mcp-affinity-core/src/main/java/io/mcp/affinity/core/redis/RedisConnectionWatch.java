package io.mcp.affinity.core.redis;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Predicate;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
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
 * and the client keeps trying to reconnect to it long after its replica took over. A node that serves slots and cannot
 * be reached also sets a {@link ClusterFailoverFollower} going, so the client's view catches up with a failover.
 */
public final class RedisConnectionWatch implements AutoCloseable {

	private final Disposable subscription;

	private final @Nullable ClusterFailoverFollower follower;

	private RedisConnectionWatch(Disposable subscription, @Nullable ClusterFailoverFollower follower) {
		this.subscription = subscription;
		this.follower = follower;
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
		ClusterFailoverFollower follower = (client instanceof RedisClusterClient cluster)
				? new ClusterFailoverFollower(cluster) : null;
		Predicate<SocketAddress> servesData = (client instanceof RedisClusterClient cluster)
				? (address) -> servesSlots(cluster.getPartitions(), address) : (address) -> true;
		Disposable subscription = client.getResources()
			.eventBus()
			.get()
			.ofType(ReconnectFailedEvent.class)
			.filter((event) -> servesData.test(event.remoteAddress()))
			.subscribe((event) -> {
				if (follower != null) {
					follower.nodeUnreachable();
				}
				onUnreachable.accept(new OwnershipStoreUnavailableException("Redis unreachable: reconnect attempt "
						+ event.getAttempt() + " failed (" + event.getCause().getMessage() + ")", event.getCause(), true));
			});
		return new RedisConnectionWatch(subscription, follower);
	}

	// Whether the node at an address serves slots now; an address the topology does not know does not count.
	static boolean servesSlots(Partitions partitions, SocketAddress address) {
		if (!(address instanceof InetSocketAddress node)) {
			return true;
		}
		for (RedisClusterNode member : partitions) {
			RedisURI uri = member.getUri();
			if (uri != null && uri.getPort() == node.getPort() && uri.getHost().equals(node.getHostString())) {
				return !member.getSlots().isEmpty();
			}
		}
		return false;
	}

	@Override
	public void close() {
		this.subscription.dispose();
		if (this.follower != null) {
			this.follower.close();
		}
	}

}
