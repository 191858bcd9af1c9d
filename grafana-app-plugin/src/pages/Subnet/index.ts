export { default } from './Subnet';
