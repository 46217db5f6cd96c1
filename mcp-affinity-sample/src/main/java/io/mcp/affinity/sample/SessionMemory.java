package io.mcp.affinity.sample;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.springframework.stereotype.Component;

/**
 * Per-session state, in this instance's memory only: exactly what a stateful MCP server keeps, and what session
 * affinity protects. Idle sessions are dropped after an hour.
 */
@Component
public class SessionMemory {

	private final Cache<String, State> sessions = Caffeine.newBuilder().expireAfterAccess(Duration.ofHours(1)).build();

	/**
	 * The state of a session, created on first use.
	 * @param sessionId the MCP session id
	 * @return its state
	 */
	public State of(String sessionId) {
		return this.sessions.get(sessionId, (id) -> new State());
	}

	/** One session's state. */
	public static final class State {

		private final Map<String, String> values = new ConcurrentHashMap<>();

		private final AtomicLong calls = new AtomicLong();

		public Map<String, String> values() {
			return this.values;
		}

		/** Counts one tool call. */
		public void countCall() {
			this.calls.incrementAndGet();
		}

		/** Tool calls of this session on this instance so far. */
		public long calls() {
			return this.calls.get();
		}

	}

}
