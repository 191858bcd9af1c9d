export { default } from './Traffic';
