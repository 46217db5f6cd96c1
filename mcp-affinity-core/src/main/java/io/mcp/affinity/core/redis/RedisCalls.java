package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import org.springframework.dao.DataAccessException;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Bounds every Redis call: a slow or absent Redis becomes an {@link OwnershipStoreUnavailableException} within the
 * operation timeout, never a stalled request.
 */
final class RedisCalls {

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
			.timeout(this.timeout)
			.onErrorMap((ex) -> ex instanceof TimeoutException || ex instanceof DataAccessException,
					(ex) -> new OwnershipStoreUnavailableException(
							"Redis " + operation + " failed: " + ex.getClass().getSimpleName(), ex));
	}

}
