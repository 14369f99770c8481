import CiDemo.Basic
