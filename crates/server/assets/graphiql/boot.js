// Starts GraphiQL on the server's own /graphql: queries and mutations over HTTP,
// subscriptions over the same path's WebSocket (graphql-transport-ws). The page's settings
// come from the JSON block in the page (see src/graphiql.rs).
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var http = new URL(config.endpoint, window.location.href);
  var ws = new URL(config.endpoint, window.location.href);
  ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';

  // The headers tab's headers go with every HTTP request; a WebSocket can't carry them, so
  // they go in its `connection_init` payload instead (where the server reads
  // `Authorization`). One fetcher, and so one socket, per set of headers.
  var fetchers = new Map();
  var initial = config.headers ? JSON.parse(config.headers) : {};
  function fetcherFor(headers) {
    var key = JSON.stringify(headers || {});
    var fetcher = fetchers.get(key);
    if (!fetcher) {
      fetcher = GraphiQL.createFetcher({
        url: http.toString(),
        subscriptionUrl: ws.toString(),
        wsConnectionParams: headers || {},
      });
      fetchers.set(key, fetcher);
    }
    return fetcher;
  }

  var props = {
    fetcher: function (params, options) {
      // GraphiQL sends its first introspection before the headers tab is read: that one
      // goes with the headers the page started with.
      var headers = options && options.headers;
      if (!headers || Object.keys(headers).length === 0) {
        headers = initial;
      }
      return fetcherFor(headers)(params, Object.assign({}, options, { headers: headers }));
    },
    defaultQuery: config.query,
    defaultEditorToolsVisibility: 'headers',
    // Tokens stay out of the browser's storage.
    shouldPersistHeaders: false,
  };
  if (config.headers) {
    props.defaultHeaders = config.headers;
    props.headers = config.headers;
  }
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props)
  );
})();
