import { useLocation } from 'react-router-dom';

/** Where the router is, and the state it was sent there with, for tests to read
 * (`getByTestId('where')`: "<pathname> <state as JSON>"). */
export function Where() {
  const location = useLocation();
  return <output data-testid="where">{`${location.pathname} ${JSON.stringify(location.state)}`}</output>;
}
