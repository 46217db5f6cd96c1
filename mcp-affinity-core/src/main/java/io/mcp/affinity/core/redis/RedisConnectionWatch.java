package io.mcp.affinity.core.redis;

import java.util.Objects;
import java.util.function.Consumer;

import io.lettuce.core.event.connection.ReconnectFailedEvent;
import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import reactor.core.Disposable;

/**
 * Reports, as it happens, that the Redis client cannot reach Redis: a reconnect that failed (refused, or no route).
 * While Lettuce reconnects it queues commands rather than failing them, so without this the only sign of a stopped
 * Redis would be calls that time out, and a slow Redis looks the same.
 */
public final class RedisConnectionWatch implements AutoCloseable {

	private final Disposable subscription;

	private RedisConnectionWatch(Disposable subscription) {
		this.subscription = subscription;
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
		Disposable subscription = connectionFactory.getRequiredNativeClient()
			.getResources()
			.eventBus()
			.get()
			.ofType(ReconnectFailedEvent.class)
			.subscribe((event) -> onUnreachable.accept(new OwnershipStoreUnavailableException(
					"Redis unreachable: reconnect attempt " + event.getAttempt() + " failed ("
							+ event.getCause().getMessage() + ")",
					event.getCause(), true)));
		return new RedisConnectionWatch(subscription);
	}

	@Override
	public void close() {
		this.subscription.dispose();
	}

}
