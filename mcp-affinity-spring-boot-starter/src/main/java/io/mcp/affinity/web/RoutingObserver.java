package io.mcp.affinity.web;

/**
 * Hears what the request path decides, for metrics. Called on the request path: implementations must be cheap and
 * must not block.
 */
public interface RoutingObserver {

	/** Observes nothing. */
	RoutingObserver NONE = new RoutingObserver() {
	};

	/**
	 * A request was routed.
	 * @param decision what was done with it
	 */
	default void routed(Decision decision) {
	}

	/**
	 * A forward ended.
	 * @param outcome how it ended
	 * @param nanosToHeaders time from the start of the forward to the owner's response headers, or to the failure
	 */
	default void forwarded(ForwardOutcome outcome, long nanosToHeaders) {
	}

	/** What the request path did with a request. */
	enum Decision {

		/** No session: handled locally, no store access. */
		SESSIONLESS,

		/** Owned here: handled locally. */
		LOCAL,

		/** Owned by a live other instance: forwarded. */
		FORWARDED,

		/** No owner, or a loop stopped: 404. */
		NOT_FOUND,

		/** The owner was dead, its entry removed: 404. */
		STALE,

		/** The store could not answer: 503. */
		UNAVAILABLE,

		/** A malformed or conflicting session id: 400. */
		INVALID

	}

	/** How a forward ended. */
	enum ForwardOutcome {

		/** The owner answered (whatever its status). */
		SUCCESS,

		/** The owner could not be reached: 404 to the client. */
		UNREACHABLE,

		/** The owner sent no response headers in time: 504 to the client. */
		TIMEOUT,

		/** Any other failure. */
		ERROR

	}

}
