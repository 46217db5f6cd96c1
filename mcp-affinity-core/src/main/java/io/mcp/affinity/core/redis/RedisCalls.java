package io.mcp.affinity.core.redis;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.data.redis.RedisConnectionFailureException;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.util.context.Context;
import reactor.util.retry.Retry;

/**
 * Bounds every Redis call: a slow or absent Redis becomes an {@link OwnershipStoreUnavailableException} within the
 * operation timeout, never a stalled request. Every call made here is idempotent (reads, SET, DEL, and scripts that
 * renew for the same owner or compare before they delete), so one that failed to reach Redis is tried again while the
 * timeout leaves time for it.
 */
final class RedisCalls {

	// Reactor's per-subscription hook for errors that arrive after cancellation (see Operators.onErrorDropped).
	private static final String ON_ERROR_DROPPED = "reactor.onErrorDropped.local";

	private static final Logger logger = LoggerFactory.getLogger(RedisCalls.class);

	private static final Consumer<Throwable> LATE_ERROR = (ex) -> logger.debug("Redis call failed after its timeout", ex);

	// Two more tries, 50 ms and about 100 ms later: enough for a connection the client is re-establishing.
	private static final Retry RECONNECT = Retry.backoff(2, Duration.ofMillis(50)).filter(RedisCalls::isConnectionFailure)
		.onRetryExhaustedThrow((spec, signal) -> signal.failure());

	private final Duration timeout;

	RedisCalls(Duration timeout) {
		if (timeout.isNegative() || timeout.isZero()) {
			throw new IllegalArgumentException("Redis operation timeout must be positive, was " + timeout);
		}
		this.timeout = timeout;
	}

	<T> Mono<T> bounded(String operation, Mono<T> call) {
		// subscribeOn: opening a connection to an unresponsive Redis blocks the subscribing thread, which no timeout
		// operator can interrupt; off the caller's thread, the timeout below holds whatever Redis does.
		return call.subscribeOn(Schedulers.boundedElastic())
			.retryWhen(RECONNECT)
			.timeout(this.timeout)
			.onErrorMap((ex) -> ex instanceof TimeoutException || ex instanceof DataAccessException,
					(ex) -> new OwnershipStoreUnavailableException(
							"Redis " + operation + " failed: " + ex.getClass().getSimpleName(), ex,
							isConnectionFailure(ex)))
			// A call abandoned at the timeout may still fail later (a connection attempt that gives up): that error
			// has nobody left to reach, and is no news, so it is logged at debug instead of Reactor's error log.
			.contextWrite(Context.of(ON_ERROR_DROPPED, LATE_ERROR));
	}

	/**
	 * Whether a failure shows that Redis could not be reached (connection refused, reset or closed), as opposed to a
	 * slow answer or an error Redis itself returned.
	 */
	static boolean isConnectionFailure(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof RedisConnectionFailureException || t instanceof IOException) {
				return true;
			}
		}
		return false;
	}

}
